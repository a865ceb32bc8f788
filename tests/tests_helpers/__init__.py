"""Code a user would bring: networks defined outside shieldkit (see test_byo_model.py)."""
