"""Teams glue: the Bot Framework's activities translated into the core's requests, and
the replies shown as Teams shows them."""
