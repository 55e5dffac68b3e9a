-- 27dfd867-7edc-5dd5-9c10-594364864b59 medium Hugging Face repository deleted
-- A model, dataset or Space repository was deleted.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'repo.delete'
ORDER BY eventTime, eventID
