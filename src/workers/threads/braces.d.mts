/** Types of braces.mjs (plain JavaScript, loaded by the search thread). */
export declare const MAX_EXPANSIONS: number;
export declare const MAX_PATTERN_LENGTH: number;
export declare function expandBraces(pattern: string): string[];
