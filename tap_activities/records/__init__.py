"""What both sources' records share: blocks and their framing, the data contract, parking."""
