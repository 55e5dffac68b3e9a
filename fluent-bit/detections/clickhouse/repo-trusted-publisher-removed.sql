-- 205b6557-f0c9-5ca7-9b7e-fd6118d0a616 low Hugging Face repository trusted publisher removed
-- A trusted publisher was removed from a repository.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'repo.remove_trusted_publisher'
ORDER BY eventTime, eventID
