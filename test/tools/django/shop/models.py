# The shop's tables are defined by its migrations alone.
