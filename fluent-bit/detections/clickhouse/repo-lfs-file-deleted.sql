-- e9b350f4-6963-51f2-acac-3a14a2b4a5d3 medium Hugging Face repository LFS file deleted
-- An LFS file (weights, dataset shards) was deleted from a repository's storage; it cannot be restored
-- from the git history.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'repo.delete_lfs_file'
ORDER BY eventTime, eventID
