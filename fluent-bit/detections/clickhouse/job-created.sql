-- 640b4537-5369-55ae-b4e9-5966b9da6680 low Hugging Face job created
-- A compute job was started on the organization's account.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'jobs.create'
ORDER BY eventTime, eventID
