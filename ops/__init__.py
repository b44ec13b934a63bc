"""Operations: checks, telemetry and the errors users see (`sena doctor`)."""
