"""The rules folder: its validation (file, line, problem) and its loading into the warehouse."""
