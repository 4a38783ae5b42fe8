"""The drill simulator (`tracking simulate`): a believable arrival day driven through the public
HTTP API of a running server, as real phones, desks, vehicles and doors would drive it.

It speaks HTTP only (no import of the server's packages): `drill.plan` plans a day (pure),
`drill.run` plays it against a server, `drill.summary` counts what was acknowledged and
compares it with the board.
"""
