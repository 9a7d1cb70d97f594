"""The sandbox's Log Analytics stand-in: the gateway log and the query API that reads it."""
