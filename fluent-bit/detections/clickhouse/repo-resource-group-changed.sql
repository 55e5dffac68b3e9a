-- c3622036-1fc4-57e2-9acb-30afc08e094a low Hugging Face repository or collection moved to another resource group
-- A repository or collection changed resource group: who can access it changes with it.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName IN ('repo.update_resource_group', 'collection.update_resource_group')
ORDER BY eventTime, eventID
