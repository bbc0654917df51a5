//! The conformance runner (vectors as data, clause-named cases, a waiver list). Filled by later issues.
