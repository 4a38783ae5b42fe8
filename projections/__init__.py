"""Read models fed by events: the views the screens read, and the projector that keeps them.

`projector.Projector` reads the notification log in pages and applies each page to the view
tables together with its position, in one transaction (exactly-once). `queries` holds the read
functions the API uses; `cli` the `tracking projections ...` commands.
"""
