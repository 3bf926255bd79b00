"""Infrastructure every area shares: settings, database, models, files, users."""
