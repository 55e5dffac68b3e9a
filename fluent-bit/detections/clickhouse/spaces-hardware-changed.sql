-- 9257b9bd-a28a-5a62-96f8-abdf38baaa5d low Hugging Face Space hardware changed
-- A Space's hardware was changed (for example to GPUs): cost, and a classic sign of compute hijacking.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'spaces.update_hardware'
ORDER BY eventTime, eventID
