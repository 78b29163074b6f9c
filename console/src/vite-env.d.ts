// Types for what Vite lets the console import besides modules (its stylesheet).
/// <reference types="vite/client" />
