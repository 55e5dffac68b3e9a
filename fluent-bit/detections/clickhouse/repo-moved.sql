-- 79d5fb46-44c2-57ea-8f5e-9418301b0fec medium Hugging Face repository moved or renamed
-- A repository was moved or renamed; moving it to a namespace outside the organization takes it out of
-- the organization's control.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'repo.move'
ORDER BY eventTime, eventID
