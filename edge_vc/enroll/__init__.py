"""Enrollment: capture, consent, coach checks and measures, the report picture, the flow that makes a profile."""
