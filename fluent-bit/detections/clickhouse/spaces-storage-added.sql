-- 85bd3210-ca36-56fe-886b-b0ecb81bdf50 informational Hugging Face Space storage or volumes added
-- Persistent storage or volumes were added to a Space (billed).
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName IN ('spaces.add_storage', 'spaces.set_volumes')
ORDER BY eventTime, eventID
