// Filled in by the facebook provider fields work (issue #4).
export {};
