"""Results for people: console tables and plots (matplotlib is imported lazily)."""
