"""ThinQ Connect push over MQTT with mutual TLS: the sandbox's certificate authority
(``authority``), a loopback address per sandbox (``addresses``), the mosquitto broker
(``broker``) and the channel that ties them to the API and the delivery engine
(``channel``). docs/home-assistant.md shows it from a client's side."""
