print("warren: not yet")
