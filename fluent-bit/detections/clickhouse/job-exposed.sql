-- 589022b5-fc6d-5348-aeb7-842a5b4bbd1e medium Hugging Face job exposure changed
-- The network exposure of a running job was changed (a job port may now be reachable from outside).
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'jobs.update_expose'
ORDER BY eventTime, eventID
