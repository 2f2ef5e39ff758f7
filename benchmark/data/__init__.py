"""Data pipeline: read → label → parse → embed → bag → split, each stage cached."""
