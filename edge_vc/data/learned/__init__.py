"""Pretrained base part of the learned voice stage (see docs/learned-stage.md)."""
