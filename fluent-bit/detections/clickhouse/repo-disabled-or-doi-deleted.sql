-- 293a031c-0e07-5eb0-ad24-92ec6adf955b medium Hugging Face repository disabled or DOI deleted
-- A repository was disabled, re-enabled after being disabled, or lost its DOI.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName IN ('repo.disable', 'repo.removeDisable', 'repo.delete_doi')
ORDER BY eventTime, eventID
