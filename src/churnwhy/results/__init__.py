"""Typed, frozen result objects: data only (to_dict() / to_frame()), no printing."""
