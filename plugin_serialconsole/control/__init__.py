"""REST resources: JSON in and out, validated against API.json."""
