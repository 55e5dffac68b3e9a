-- 0e01b118-06f4-574f-b929-d4b8b5193128 low Hugging Face repository secret removed
-- A secret of a repository was removed.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName IN ('repo.remove_secret', 'repo.remove_secrets')
ORDER BY eventTime, eventID
