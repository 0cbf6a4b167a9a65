"""Pure rule engine: load a rules file, compile it, and turn events into record drafts.

Nothing in this package performs I/O beyond reading the rules file itself.
"""
