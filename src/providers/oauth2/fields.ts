// Filled in by the oauth2 provider fields work (issue #4).
export {};
