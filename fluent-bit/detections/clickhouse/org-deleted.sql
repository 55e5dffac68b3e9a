-- 36c3f14b-512b-5d63-a7ff-6c149d969cd5 critical Hugging Face organization deleted
-- The organization itself was deleted.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'org.delete'
ORDER BY eventTime, eventID
