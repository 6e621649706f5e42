"""keyfolio.cli."""
