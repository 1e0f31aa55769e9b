"""District network meetings: plan, prepare (agenda, school input, partner pictures, trend report), hold (attendance,
minutes, actions) and follow up (comment round, adoption, open actions carried to the next meeting)."""
