"""keyfolio.services."""
