// The dashboard's browser code (a later issue fills it). It imports only src/shared.
export {};
