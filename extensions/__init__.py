"""Extensions: small Python plugins the run_extensions node calls (core, user, generated)."""
