"""Market facts: trading days of the exchange (calendar) and ticker codes."""
