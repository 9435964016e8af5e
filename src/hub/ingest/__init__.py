"""What reaches the hub over MQTT: edge events, their spool and projection, X-ray images."""
