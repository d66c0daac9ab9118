"""Bad input never hurts the server: malformed frames, huge declared lengths, binary data,
bad arguments, vanishing and slow clients, connection limits. After every hostile case the
node still answers on a fresh connection and the data written before it is intact."""
