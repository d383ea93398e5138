"""How the agent's facts leave the PC: HTTP /metrics, Pushgateway, textfile;
and the catalogue of every metric the agent may emit."""
