"""Tables I–III and the iso-F1 figure, rebuilt from run records alone."""
