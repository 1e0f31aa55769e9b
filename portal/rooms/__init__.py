"""District network rooms (schoolveiligheidsnetwerken) and their members."""
