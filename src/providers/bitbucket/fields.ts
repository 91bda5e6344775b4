// Filled in by the bitbucket provider fields work (issue #4).
export {};
