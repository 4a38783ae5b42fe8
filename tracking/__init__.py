"""The application: commands on eventsourcing Applications, settings, wiring and the CLI."""
