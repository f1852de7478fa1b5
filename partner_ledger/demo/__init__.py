"""The demo program: a generated landing directory of a realistic two-program year."""
