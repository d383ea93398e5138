"""Reports over a period (the weekly report): computation, rendering and the command, apart."""
