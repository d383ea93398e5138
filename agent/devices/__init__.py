"""Device protocols used by the printer and scanner collectors: a small IPP/1.1
client, SNMP Printer-MIB decoding, SANE and eSCL. Pure parsing functions are
kept apart from the code that talks to the network, so tests can feed them
recorded answers as well as real devices."""
