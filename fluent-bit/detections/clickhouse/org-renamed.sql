-- b7944388-f8d5-5c0c-9f85-95b7abc5b2cf medium Hugging Face organization renamed
-- The organization was renamed: its repository URLs change and the old name can be claimed by someone
-- else.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'org.rename'
ORDER BY eventTime, eventID
