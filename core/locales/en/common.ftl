# Words shared by several areas.
plural-messages = { $count ->
    [one] { $count } message
   *[other] { $count } messages
}
